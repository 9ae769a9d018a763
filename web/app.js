document.getElementById('main').textContent = 'hookd dashboard';
